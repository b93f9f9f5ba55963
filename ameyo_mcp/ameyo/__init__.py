"""The wire to Ameyo's Customer Manager: request and answer models, the client, the session and
the service that the rest of the package calls."""
