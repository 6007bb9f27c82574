"""Around every route: security headers, request-body limits, contracts as they are now."""
