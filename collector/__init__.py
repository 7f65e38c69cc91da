"""The collector: ingests a district's frames, keeps the record, raises alarms, feeds the city."""
