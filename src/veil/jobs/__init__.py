"""Jobs: the stages of one file in order (:mod:`veil.jobs.pipeline`, the one place every
shell calls), the runners that move tasks to it (:mod:`veil.jobs.runners`), the report
step after them (:mod:`veil.jobs.report`) and the jobs of each kind of file."""
