"""The review page (``veil review``): see what will be masked, correct it, render.

- :mod:`veil.review.state`: the files under review, their plans, and every edit (saved
  into the plan at once);
- :mod:`veil.review.pipeline`: scan a file that has no plan, render a plan as
  ``veil render`` does;
- :mod:`veil.review.frames`: video frames decoded on demand, kept in memory only;
- :mod:`veil.review.follow`: a region drawn on one video frame becomes a track;
- :mod:`veil.review.server`: the local web server (127.0.0.1, token on every request);
- ``static/``: the page itself (plain HTML, CSS and JavaScript, no build step).
"""
