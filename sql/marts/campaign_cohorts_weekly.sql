-- campaign_cohorts_weekly
-- Grain: campaign x cohort_week. One row = the leads added to one campaign in one ISO week (Monday,
-- UTC, week of CampaignMember.CreatedDate) and how far they got in the funnel as of run_date.
-- Readings of METRICS.md (tests/fixtures/golden/INTERPRETATIONS.md C1-C6):
--   * only members with a LeadId, added before run_date + 1 day. A lead counts once per campaign and
--     week (de-duplicated), but in every campaign it touched (multi-touch). The LeadId need not
--     exist in leads (then it is a member with no MQL, SQL or opportunity).
--   * responders: the lead has HasResponded on any of its member rows in that campaign and week
--   * mqls / sqls / opportunities / won are properties of the member lead as of run_date, at any time
--     (before or after joining the campaign): no attribution rule
--   * opportunities / won / won_acv count distinct lead opportunities (two leads converted into the same
--     opportunity count once): opportunities created as of run_date, won = those won as of run_date,
--     won_acv is 0 when nothing was won
--   * cost spreads the campaign's ActualCost over its weeks pro rata to members (NULL without
--     ActualCost). A member whose CampaignId is not in campaigns keeps its row with NULL name, channel
--     and cost.
WITH member_rows AS (
    SELECT
        campaign_id,
        CAST(date_trunc('week', created_at) AS DATE)  AS cohort_week,
        lead_id,
        has_responded
    FROM stg_campaign_members
    WHERE lead_id IS NOT NULL
      AND campaign_id IS NOT NULL
      AND created_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
),

funnel_leads AS (
    -- the leads that got anywhere in the funnel as of run_date (one row per lead); a member lead
    -- not among them counts as a member (and maybe a responder) only, so the join needs only these
    SELECT lead_id, mql_at, sql_at, opportunity_id, is_won, opportunity_amount
    FROM int_lead_funnel
    WHERE mql_at IS NOT NULL OR sql_at IS NOT NULL OR opportunity_id IS NOT NULL
),

member_funnel AS (
    -- one row per campaign, week and lead (the member rows de-duplicated after the join). The
    -- funnel columns depend on the lead alone (funnel_leads has one row per lead), so they are
    -- grouped on, not aggregated: the same groups, with less state per group. Joined on lead_id
    -- the rows of a lead arrive together, so a large run groups them as they stream.
    SELECT
        member_rows.campaign_id,
        member_rows.cohort_week,
        member_rows.lead_id,
        bool_or(member_rows.has_responded)            AS has_responded,
        lead_funnel.mql_at IS NOT NULL                AS is_mql,
        lead_funnel.sql_at IS NOT NULL                AS is_sql,
        lead_funnel.opportunity_id,
        lead_funnel.is_won,
        lead_funnel.opportunity_amount
    FROM member_rows
    LEFT JOIN funnel_leads AS lead_funnel
        ON lead_funnel.lead_id = member_rows.lead_id
    GROUP BY
        member_rows.campaign_id, member_rows.cohort_week, member_rows.lead_id,
        lead_funnel.mql_at IS NOT NULL, lead_funnel.sql_at IS NOT NULL,
        lead_funnel.opportunity_id, lead_funnel.is_won, lead_funnel.opportunity_amount
),

opportunity_groups AS (
    -- one row per campaign, week and distinct opportunity of its member leads (opportunity_id NULL:
    -- the members without one), with the members' counts: the member rows are read once, and the
    -- opportunities are de-duplicated at their own grain (two leads of one opportunity count once)
    SELECT
        campaign_id,
        cohort_week,
        opportunity_id,
        is_won,
        opportunity_amount,
        count(*)                                        AS members,
        sum(CASE WHEN has_responded THEN 1 ELSE 0 END)  AS responders,
        sum(CASE WHEN is_mql THEN 1 ELSE 0 END)         AS mqls,
        sum(CASE WHEN is_sql THEN 1 ELSE 0 END)         AS sqls
    FROM member_funnel
    GROUP BY campaign_id, cohort_week, opportunity_id, is_won, opportunity_amount
),

week_counts AS (
    SELECT
        campaign_id,
        cohort_week,
        sum(members)                                                        AS members,
        sum(responders)                                                     AS responders,
        sum(mqls)                                                           AS mqls,
        sum(sqls)                                                           AS sqls,
        count(opportunity_id)                                               AS opportunities,
        sum(CASE WHEN opportunity_id IS NOT NULL AND is_won THEN 1 ELSE 0 END) AS won,
        sum(CASE WHEN opportunity_id IS NOT NULL AND is_won THEN opportunity_amount ELSE 0 END)
                                                                            AS won_acv
    FROM opportunity_groups
    GROUP BY campaign_id, cohort_week
),

cohorts AS (
    SELECT
        week_counts.campaign_id,
        campaign.campaign_name,
        campaign.channel,
        week_counts.cohort_week,
        week_counts.members,
        week_counts.responders,
        week_counts.mqls,
        week_counts.sqls,
        week_counts.opportunities,
        week_counts.won,
        week_counts.won_acv,
        -- the campaign's cost, pro rata to its members over all its weeks
        campaign.actual_cost * week_counts.members
            / NULLIF(sum(week_counts.members) OVER (PARTITION BY week_counts.campaign_id), 0)  AS cost
    FROM week_counts
    LEFT JOIN stg_campaigns AS campaign
        ON campaign.campaign_id = week_counts.campaign_id
)

SELECT
    campaign_id,
    campaign_name,
    channel,
    cohort_week,
    members,
    responders,
    mqls,
    sqls,
    opportunities,
    won,
    won_acv,
    CAST(mqls AS DOUBLE) / NULLIF(members, 0)               AS mql_rate,
    CAST(sqls AS DOUBLE) / NULLIF(mqls, 0)                  AS mql_to_sql_rate,
    CAST(opportunities AS DOUBLE) / NULLIF(sqls, 0)         AS sql_to_opportunity_rate,
    CAST(won AS DOUBLE) / NULLIF(opportunities, 0)          AS opportunity_win_rate,
    cost,
    cost / NULLIF(mqls, 0)                                  AS cost_per_mql
FROM cohorts
ORDER BY campaign_id, cohort_week
