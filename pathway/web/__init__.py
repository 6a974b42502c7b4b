"""HTTP conventions shared by Pathway's HTTP fronts (the event gateway and the codec server):
errors as ``application/problem+json`` (:mod:`pathway.web.problems`) and request bodies read
within a size limit (:mod:`pathway.web.bodies`)."""
