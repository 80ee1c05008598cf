"""Imports every module that registers a built-in training task."""
