"""pipeline import-telegram on real and broken exports."""
