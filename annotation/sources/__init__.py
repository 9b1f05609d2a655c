"""Where candidate photos come from: Flickr searches, local folders, URL lists and S3
prefixes. Each source turns what it finds into `CandidateOffer`s for the one candidate
pool of annotation/stages/collection.py."""
