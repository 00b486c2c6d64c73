"""Code similarity between submissions (``hnm similarity``): the graded code of each submission
compared pairwise with copydetect's fingerprints, the released starter code removed, offline.
Reads submissions the way the grader does; never grades and never sends code anywhere.
"""
