"""clusterbuild: declarative, content-addressed builds of Sealos cluster images."""

__version__ = "0.1.0"
