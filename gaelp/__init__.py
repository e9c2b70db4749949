"""GAELP: a realistic ad-market simulator and learning platform for performance-marketing bidding."""

__version__ = "0.1.0"


def _register_envs() -> None:
    """Register `gaelp/Campaign-v0` with Gymnasium (by entry-point string: nothing heavy is imported)."""
    import gymnasium

    if "gaelp/Campaign-v0" not in gymnasium.registry:
        gymnasium.register(id="gaelp/Campaign-v0", entry_point="gaelp.agent.env:CampaignEnv",
                           kwargs={"users": 2_000, "days": 2})


_register_envs()
