"""The Kubefile: find it, parse it with BuildKit's parser, evaluate it for one platform."""
