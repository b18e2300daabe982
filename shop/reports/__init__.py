"""Sales reports for agent managers and the operator: pages, CSV, PDF, dashboard and API."""
