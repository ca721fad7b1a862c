-- lead_scores
-- Grain: one row per lead created as of run_date: every open lead (is_open) to work today, and every
-- historical lead for evaluation (filter on is_open, or on outcome_known / sample). METRICS.md
-- lead_scores; hypothesis 1 of seeds/000. The columns and their readings are documented in
-- int_lead_scores, which computes them; this model orders them: open leads first, most likely first.
SELECT *
FROM int_lead_scores
ORDER BY is_open DESC, conversion_probability DESC, lead_id
