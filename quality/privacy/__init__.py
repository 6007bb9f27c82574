"""Privacy gate, detection part: finds personal identifiers in a delivery's columns.

`detectors.detect_identifiers` scans an Arrow table column by column (vectorised, masked samples
only) and `detectors.detection_checks` turns hits in columns not declared `direct_identifier`
into blocking `privacy` checks.
"""
