-- stg_campaign_members
-- Grain: one row per Salesforce CampaignMember row (a lead or contact added to a campaign).
-- has_responded: a missing flag is read as false.
WITH source AS (
    SELECT * FROM campaign_members
)

SELECT
    trim("Id")                          AS campaign_member_id,
    trim("CampaignId")                  AS campaign_id,
    NULLIF(trim("LeadId"), '')          AS lead_id,
    NULLIF(trim("ContactId"), '')       AS contact_id,
    "CreatedDate"                       AS created_at,
    coalesce("HasResponded", FALSE)     AS has_responded,
    "FirstRespondedDate"                AS first_responded_date
FROM source
