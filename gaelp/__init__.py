"""GAELP: a realistic ad-market simulator and learning platform for performance-marketing bidding."""

__version__ = "0.1.0"
