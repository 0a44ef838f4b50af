"""Building blocks of the seeded ShopRight sample-log generator (see sample_logs/generate.py)."""
