"""The config tree: defaults, TOML files, CLI overrides, errors that name the field."""

import tomllib

import pytest

from gaelp.config import Config, ConfigError, build_config, dump_toml, load_config


def test_defaults_are_valid_and_round_trip_through_toml():
    cfg = Config()
    assert cfg.channel_names == ("search", "social", "display")
    assert len(cfg.market.competitors) >= 4
    again = build_config(tomllib.loads(dump_toml(cfg)))
    assert again == cfg


def test_file_then_flags_override_defaults(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('users = 500\nseed = 4\n[campaign]\nbudget_per_user = 0.5\n'
                 '[[market.competitors]]\nname = "qustodio"\nbase_cpc = 9.0\n')
    cfg = load_config(f, seed=7)
    assert cfg.users == 500 and cfg.seed == 7
    assert cfg.campaign.budget_per_user == 0.5
    # a list entry sharing a default's name inherits the other fields; the list replaces the default
    assert [c.name for c in cfg.market.competitors] == ["qustodio"]
    q = cfg.market.competitors[0]
    assert q.base_cpc == 9.0 and q.value == Config().market.competitors[0].value


@pytest.mark.parametrize(
    ("data", "field", "bound"),
    [
        ({"users": 0}, "users", "greater than or equal to 1"),
        ({"days": -2}, "days", "greater than or equal to 1"),
        ({"world": {"journey": {"fatigue": 99}}}, "world.journey.fatigue", "less than or equal to 10"),
        ({"campaign": {"lookback_days": 400}}, "campaign.lookback_days", "less than or equal to 90"),
        ({"market": {"competitors": [{"name": "bark", "base_cpc": -1}]}}, "market.competitors.0.base_cpc",
         "greater than 0"),
        ({"campaign": {"selector": {"decay": 1.5}}}, "campaign.selector.decay", "less than or equal to 1"),
        ({"campaign": {"selector": {"samples": 0}}}, "campaign.selector.samples", "greater than or equal to 1"),
        ({"campaign": {"selector": {"pool": 0}}}, "campaign.selector.pool", "greater than 0"),
    ],
)
def test_bad_values_name_the_field_and_the_allowed_range(data, field, bound):
    with pytest.raises(ConfigError) as e:
        build_config(data)
    assert field in str(e.value) and bound in str(e.value)


def test_unknown_fields_and_inconsistent_lists_are_rejected():
    with pytest.raises(ConfigError, match="usrs"):
        build_config({"usrs": 3})
    with pytest.raises(ConfigError, match="shares must sum to 1"):
        build_config({"world": {"segments": [{"name": "crisis", "share": 0.5}]}})
    with pytest.raises(ConfigError, match=r"campaign\.selector: .*prior_clicks \(40\.0\) must be less than prior_impressions"):
        build_config({"campaign": {"selector": {"prior_clicks": 40}}})
    with pytest.raises(ConfigError, match="position_ctr needs 4 values"):
        build_config({"world": {"channels": [{"name": "search", "position_ctr": [1.0]},
                                             {"name": "social"}, {"name": "display"}]}})


def test_missing_and_malformed_files_say_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("users = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_replace_validates():
    assert Config().replace(users=12).users == 12
    with pytest.raises(Exception, match="users"):
        Config().replace(users=-5)
