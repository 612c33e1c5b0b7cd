"""Write-side use cases: one module per area (payments, enrollments)."""
