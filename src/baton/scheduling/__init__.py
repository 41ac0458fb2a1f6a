"""Runs nobody starts by hand: schedules, event triggers and backfills, and the timers."""
