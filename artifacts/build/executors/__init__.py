"""Executors: where build tasks run.

:mod:`artifacts.build.runner` decides what runs and when (order, retries, skipping dependents);
an executor only runs one attempt of one task somewhere and hands back its
:class:`artifacts.build.execute.Outcome`. ``local`` runs worker processes on this machine (the
default); ``ray`` runs Ray tasks on a Ray cluster. Ray is imported only by the Ray executor.
"""
