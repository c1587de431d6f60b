"""Static assets of the UI (a package only so that a built wheel carries them: see package-data)."""
