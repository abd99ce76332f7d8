"""The embedded synthetic world of public figures (DESIGN §4): build it, load it."""

from asru.world.generate import World, WorldConfig, build_world, load_world

__all__ = ["World", "WorldConfig", "build_world", "load_world"]
