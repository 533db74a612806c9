"""Real groups' activity: importers into one event table, and the fingerprint of a group.

The same fingerprint code measures an export of a real group and a simulated one, so the two
can be laid side by side (``sandbox observe``).
"""
