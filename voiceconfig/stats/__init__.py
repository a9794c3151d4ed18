"""Contact-centre statistics (issue 17, docs/statistics.md): the live figures and the historical summary.

Every figure is an SQL aggregate over stored facts (calls/stats_facts.py); Python only shapes the aggregated groups.
"""
