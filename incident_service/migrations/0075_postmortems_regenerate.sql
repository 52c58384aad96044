-- Stored post-mortems are regenerated from the record: the ones written before similar
-- incidents were limited to the incident's own team may list another team's incidents
-- (ids, titles, severities), in their document and their Markdown. Drop them all; the
-- API and the post-mortem sensor write them again, now of the team only. Reviews (what
-- people wrote) are kept apart, in postmortem_reviews, and survive.
-- depends: 0050_postmortem_reviews 0060_predictions

delete from postmortems;
