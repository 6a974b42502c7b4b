"""Data protection: per-case envelope encryption of every Temporal payload, erasure by key
destruction, and the codec that Temporal clients, workers and the codec server share."""
