"""Importing Databricks jobs (`baton import databricks`): a job's definition in, a baton
YAML flow out. Pure: the CLI reads the file, checks the result with baton's own loader and
writes it. `job` reads the job and its schedule and triggers, `tasks` its tasks, `notices`
its notifications, `values` its `{{...}}` references, `quartz` its cron.
"""
