"""SoundSight: speak, and see."""
