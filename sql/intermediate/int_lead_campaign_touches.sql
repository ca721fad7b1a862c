-- int_lead_campaign_touches
-- Grain: one row per lead created as of run_date with at least one campaign touch before its
-- features_as_of (int_leads_as_of): the campaign features of lead scoring (int_lead_features).
--   touches    campaign member rows of the lead added before features_as_of
--   responses  those that had responded before features_as_of (FirstRespondedDate, or the member's
--              CreatedDate when the export has no FirstRespondedDate)
-- A model of its own (a table) so that int_lead_features joins one narrow row per lead instead of
-- aggregating 1.3 campaign members per lead inside its own plan: at 10M leads each of its joins
-- then sorts (join_strategy: sort_merge) or hashes only lead_id and two counts.
SELECT
    leads.lead_id,
    count(*) AS touches,
    sum(CASE
        WHEN members.has_responded
         AND coalesce(CAST(members.first_responded_date AS TIMESTAMP), members.created_at)
             < leads.features_as_of
        THEN 1 ELSE 0
    END)     AS responses
FROM int_leads_as_of AS leads
JOIN stg_campaign_members AS members
    ON members.lead_id = leads.lead_id
WHERE members.created_at < leads.features_as_of
GROUP BY leads.lead_id
