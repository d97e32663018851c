"""A real public bank (CC BY 4.0) through every output."""
