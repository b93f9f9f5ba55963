"""The local contacts index: syncing it from Ameyo, looking customers up in it, and keeping it
current with the answers of writes."""
