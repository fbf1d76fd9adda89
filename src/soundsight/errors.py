"""The exception types a user can meet; each message is one line naming the input and the problem."""

from __future__ import annotations


class SoundSightError(Exception):
    """Base of every error a user can cause and fix."""


class AudioError(SoundSightError):
    """An audio input cannot be read or used."""


class ImageError(SoundSightError):
    """An image input cannot be read or used."""


class PromptError(SoundSightError):
    """A caption or prompt is outside what the stage accepts."""


class SpeechSynthesisError(SoundSightError):
    """espeak-ng is missing, or it cannot speak with the voice asked for."""


class ConfigError(SoundSightError):
    """A configuration field holds a value it cannot take."""


class ModelNotFoundError(SoundSightError):
    """Model weights are not where they were asked for."""


class OutputExistsError(SoundSightError):
    """An output already exists and would be overwritten without --force."""
