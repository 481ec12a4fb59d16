"""Stage 1, scan: detectors turn a frame into :class:`veil.detections.Detections`."""
