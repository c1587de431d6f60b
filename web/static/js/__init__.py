"""The UI's JavaScript modules (a package only so that a built wheel carries them)."""
