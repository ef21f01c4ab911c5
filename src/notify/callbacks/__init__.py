"""Service callbacks: each final status POSTed to the service's own URL (GOV.UK Notify's callback JSON)."""
