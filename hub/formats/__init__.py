"""Adapter file formats: header probing, safe loading, conversion to and from one representation."""
