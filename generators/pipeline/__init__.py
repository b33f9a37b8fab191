"""The tracking pipeline as a whole: its reference models and their end-to-end evaluation."""
