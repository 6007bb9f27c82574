"""A delivery's way: landing → admit → gate → publish → report, lineage events beside it."""
