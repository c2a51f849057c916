"""Programs a warm start's interpreter runs until its job's code arrives (agent.warm).

Each launcher is run by the job's own interpreter, as the job user, with the
job's limits and filter already in place; each waits on a descriptor the agent
holds for the program's argv (NUL-separated), then runs the program as the plain
command would. They import nothing of the agent's. The one exception is
``python_forkserver.py`` (agent.forkserver): run as root, it imports the jail,
and each process it forks enters the jail and becomes ``python_launcher.py``.

``node_esm.js`` is no launcher but runs beside them, in every Node run (warm or
cold, by ``--require``): a main file written as an ES module runs as one; run
as a program, it is JavaScript's syntax check.
"""
