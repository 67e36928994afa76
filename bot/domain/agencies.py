"""The agency directory's fixed words."""

# The provincial triage team's pseudo-agency: complaints nobody can route yet wait there.
TRIAGE_CODE = "triase"
