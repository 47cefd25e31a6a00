"""The app's screens; each binds to the SDK's observables and calls its verbs."""
