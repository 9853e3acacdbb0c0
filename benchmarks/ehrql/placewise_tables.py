"""The warehouse tables ehrQL reads in the benchmark, as ``bench_ehrql.py`` exports them to SQLite.

A module of its own because ehrQL refers to a definition's tables by module and name across its processes,
so the module must be importable (``bench_ehrql.py`` puts this folder on ehrQL's path).
"""

import datetime

from ehrql.tables import EventFrame, PatientFrame, Series, table


@table
class patients(PatientFrame):
    """Placewise's ``people``: the first of the birth month stands as the birthday."""

    date_of_birth = Series(datetime.date)
    date_of_death = Series(datetime.date)


@table
class registrations(EventFrame):
    """Placewise's ``registrations``."""

    practice_code = Series(str)
    start_date = Series(datetime.date)
    end_date = Series(datetime.date)
    end_sort = Series(datetime.date)
    """``end_date``, or 9999-12-31 when open: an open registration ends latest."""


@table
class clinical_events(EventFrame):
    """Placewise's ``clinical_events``."""

    date = Series(datetime.date)
    snomed_code = Series(str)
    value = Series(float)


@table
class medications(EventFrame):
    """Placewise's ``medications``."""

    date = Series(datetime.date)
    dmd_code = Series(str)
