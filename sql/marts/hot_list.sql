-- hot_list
-- Grain: one row per account the account executives should work in the planning horizon (var
-- capacity_weeks weeks after run_date), best first. Hypothesis 2 of seeds/000: the accounts with the
-- highest likelihood of a quick close and long-term value that the team's capacity can actually work.
-- Candidates (METRICS.md hot_list):
--   * accounts with an open opportunity (created as of run_date, not closed as of run_date) of a type in
--     var hot_list_opportunity_types (default New Business: renewals and expansions are CSM work in the
--     capacity model and their value is not a new customer's LTV). An account with several open ones is
--     listed once, for its best one (highest expected value per AE hour).
--   * open leads of grade A or B (lead_scores) routed to the account executives (route
--     'account_executive': seeds/000 sends the others to the self-service platform, they take no AE
--     hours) whose outcome window is still running (created within var outcome_window_days:
--     conversion_probability is about that window; an older open lead did not convert in it). An open
--     lead has no account yet: account_id is NULL, account_name is the lead's Company, and several such
--     leads of one company are listed once (the best one).
-- Columns:
--   p_win:          opportunity: the stage-conditional win rate of its current stage (int_stage_outlook);
--                   current stage = the latest stage change of var stages as of run_date (an opportunity
--                   moved back is in the earlier stage), else its StageName, else the first stage.
--                   A stage no closed deal entered falls back to the win rate of all closed deals of
--                   those types; with no closed deal of those types at all (a new org, or its only
--                   won deal has no CloseDate yet) there is no history to learn from: p_win is NULL,
--                   the row ranks after every row with a value, and its reason says so (the list is
--                   still published).
--                   lead: its conversion_probability.
--   expected_ltv:   the segment's average LTV per new customer from unit_economics_monthly: the channel
--                   (the opportunity's or lead's LeadSource) over the last var hot_list_ltv_months months
--                   up to the run_date month, months weighted by their new customers; the ALL rows over
--                   the same months when the channel has no LTV there.
--   expected_value = p_win x expected_ltv.
--   expected_days_to_close: int_stage_outlook remaining_days (sum of median days in the current and later
--                   stages; a lead: the whole stage path, the time before its opportunity not counted).
--   required_ae_hours: the role var ae_role's capacity activities still ahead: per_opportunity hours
--                   x remaining_share of the current stage (equal work per stage; a lead: all of them),
--                   plus the per_won_deal hours (the closing work, planned in full). Activities with a
--                   ProductType count when it matches the opportunity's Product_Type__c or the lead's
--                   ProductInterest ('both' matches either); MQL/SQL work is SDR work, not counted.
--   rank:           by expected_value / required_ae_hours (value_per_ae_hour), descending (rows without
--                   a value, e.g. no LTV history yet, last); ties by account_id then lead_id (NULLs last),
--                   so the order is reproducible. A row that needs no AE hours (no capacity activity of
--                   the AE matches it) has an unbounded value per hour: it ranks ahead of the others,
--                   by expected_value (value_per_ae_hour stays NULL: there is no ratio to show), and it
--                   takes none of the capacity.
--   cumulative_ae_hours: required hours of this row and every row ranked above it. The list stops at the
--                   last row whose cumulative_ae_hours fits in ae_available_hours (capacity_plan
--                   available_hours of var ae_role for the horizon).
-- Also: source ('opportunity' / 'lead'), opportunity_id / lead_id of the row, stage (current stage of the
-- opportunity), channel, value_per_ae_hour, ae_available_hours.
WITH ae_capacity AS (
    SELECT coalesce(sum(available_hours), 0.0) AS ae_available_hours
    FROM capacity_plan
    WHERE role = {{ var('ae_role') }}
),

ae_activities AS (
    SELECT unit, product_type, hours
    FROM stg_capacity_activities
    WHERE role = {{ var('ae_role') }}
      AND unit IN ('per_opportunity', 'per_won_deal')
),

ltv_by_segment AS (
    SELECT
        channel,
        -- rounded to cents: the last-bit noise of parallel sums must not reorder the list
        round(sum(ltv * new_customers) / NULLIF(sum(new_customers), 0), 2) AS expected_ltv
    FROM unit_economics_monthly
    WHERE ltv IS NOT NULL
      AND new_customers > 0
      AND month > CAST(date_trunc('month', {{ run_date }})
                       - CAST({{ var('hot_list_ltv_months') }} || ' months' AS INTERVAL) AS DATE)
      AND month <= {{ run_date }}
    GROUP BY channel
),

all_segments_ltv AS (
    SELECT expected_ltv FROM ltv_by_segment WHERE channel = 'ALL'
),

open_opportunities AS (
    SELECT
        opportunity_id,
        account_id,
        opportunity_type,
        channel,
        product_type,
        stage_name
    FROM int_opportunities
    WHERE is_created_as_of
      AND NOT is_closed_as_of
      AND account_id IS NOT NULL
      AND opportunity_type IN ({{ var_list('hot_list_opportunity_types') }})
),

latest_stage_changes AS (
    SELECT
        history.opportunity_id,
        history.stage_name,
        row_number() OVER (
            PARTITION BY history.opportunity_id
            ORDER BY history.stage_entered_at DESC,
                     array_position({{ var('stages') }}, history.stage_name) DESC
        ) AS change_rank
    FROM stg_opportunity_history AS history
    JOIN open_opportunities
        ON open_opportunities.opportunity_id = history.opportunity_id
    WHERE history.stage_entered_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
      AND array_position({{ var('stages') }}, history.stage_name) IS NOT NULL
),

opportunities_in_stage AS (
    SELECT
        open_opportunities.*,
        coalesce(
            latest.stage_name,
            CASE WHEN array_position({{ var('stages') }}, open_opportunities.stage_name) IS NOT NULL
                 THEN open_opportunities.stage_name END,
            array_element({{ var('stages') }}, 1)
        ) AS current_stage
    FROM open_opportunities
    LEFT JOIN latest_stage_changes AS latest
        ON latest.opportunity_id = open_opportunities.opportunity_id
       AND latest.change_rank = 1
),

opportunity_hours AS (
    SELECT
        opportunities.opportunity_id,
        coalesce(sum(CASE
            WHEN activities.unit = 'per_opportunity' THEN activities.hours * outlook.remaining_share
            WHEN activities.unit = 'per_won_deal' THEN activities.hours
        END), 0.0) AS required_ae_hours
    FROM opportunities_in_stage AS opportunities
    JOIN int_stage_outlook AS outlook
        ON outlook.stage = opportunities.current_stage
    LEFT JOIN ae_activities AS activities
        ON activities.product_type IS NULL
        OR activities.product_type = opportunities.product_type
    GROUP BY opportunities.opportunity_id
),

opportunity_candidates AS (
    SELECT
        'opportunity'                                       AS source,
        opportunities.account_id,
        accounts.account_name,
        opportunities.opportunity_id,
        arrow_cast(NULL, 'Utf8')                            AS lead_id,
        opportunities.channel,
        opportunities.current_stage                         AS stage,
        outlook.win_rate                                    AS p_win,
        outlook.remaining_days                              AS expected_days_to_close,
        hours.required_ae_hours,
        'Open ' || opportunities.opportunity_type || ' opportunity in ' || opportunities.current_stage
            || ': ' || coalesce(
                CAST(CAST(round(100 * outlook.win_rate) AS BIGINT) AS VARCHAR)
                    || '% of closed deals that reached this stage were won',
                'no closed deals yet to learn a win rate from')
                                                            AS reason
    FROM opportunities_in_stage AS opportunities
    JOIN int_stage_outlook AS outlook
        ON outlook.stage = opportunities.current_stage
    JOIN opportunity_hours AS hours
        ON hours.opportunity_id = opportunities.opportunity_id
    LEFT JOIN stg_accounts AS accounts
        ON accounts.account_id = opportunities.account_id
),

hot_leads AS (
    SELECT
        scores.*,
        row_number() OVER (
            PARTITION BY coalesce(lower(trim(scores.company)), scores.lead_id)
            ORDER BY scores.conversion_probability DESC, scores.lead_id
        ) AS company_rank
    FROM lead_scores AS scores
    WHERE scores.is_open
      AND NOT scores.outcome_known
      AND scores.grade IN ('A', 'B')
      AND scores.route = 'account_executive'
),

lead_hours AS (
    SELECT
        hot_leads.lead_id,
        coalesce(sum(activities.hours), 0.0) AS required_ae_hours
    FROM hot_leads
    LEFT JOIN ae_activities AS activities
        ON activities.product_type IS NULL
        OR activities.product_type = hot_leads.product_interest
        OR hot_leads.product_interest = 'both'
    WHERE hot_leads.company_rank = 1
    GROUP BY hot_leads.lead_id
),

lead_candidates AS (
    SELECT
        'lead'                                              AS source,
        hot_leads.account_id,
        hot_leads.company                                   AS account_name,
        arrow_cast(NULL, 'Utf8')                            AS opportunity_id,
        hot_leads.lead_id,
        hot_leads.channel,
        arrow_cast(NULL, 'Utf8')                            AS stage,
        hot_leads.conversion_probability                    AS p_win,
        first_stage.remaining_days                          AS expected_days_to_close,
        lead_hours.required_ae_hours,
        'Grade ' || hot_leads.grade || ' lead (score ' || CAST(hot_leads.score AS VARCHAR) || ', '
            || CAST(CAST(round(100 * hot_leads.conversion_probability) AS BIGINT) AS VARCHAR)
            || '% likely to become a customer): ' || coalesce(hot_leads.top_reasons, '')
                                                            AS reason
    FROM hot_leads
    JOIN lead_hours
        ON lead_hours.lead_id = hot_leads.lead_id
    CROSS JOIN (SELECT remaining_days FROM int_stage_outlook WHERE stage_order = 1) AS first_stage
    WHERE hot_leads.company_rank = 1
),

candidates AS (
    SELECT * FROM opportunity_candidates
    UNION ALL
    SELECT * FROM lead_candidates
),

valued AS (
    SELECT
        candidates.*,
        coalesce(segment.expected_ltv, (SELECT expected_ltv FROM all_segments_ltv)) AS expected_ltv
    FROM candidates
    LEFT JOIN ltv_by_segment AS segment
        ON segment.channel = candidates.channel
),

prioritised AS (
    SELECT
        valued.*,
        p_win * expected_ltv                                        AS expected_value,
        p_win * expected_ltv / NULLIF(required_ae_hours, 0)         AS value_per_ae_hour,
        coalesce(required_ae_hours = 0 AND p_win * expected_ltv IS NOT NULL, FALSE) AS needs_no_ae_hours
    FROM valued
),

one_per_account AS (
    SELECT
        prioritised.*,
        row_number() OVER (
            PARTITION BY coalesce(account_id, lead_id)
            ORDER BY needs_no_ae_hours DESC, value_per_ae_hour DESC NULLS LAST,
                     expected_value DESC NULLS LAST, opportunity_id, lead_id
        ) AS account_rank
    FROM prioritised
),

ranked AS (
    SELECT
        one_per_account.*,
        row_number() OVER (
            ORDER BY needs_no_ae_hours DESC, value_per_ae_hour DESC NULLS LAST,
                     expected_value DESC NULLS LAST, account_id ASC NULLS LAST, lead_id ASC NULLS LAST
        ) AS rank
    FROM one_per_account
    WHERE account_rank = 1
),

cumulated AS (
    SELECT
        ranked.*,
        sum(required_ae_hours) OVER (ORDER BY rank ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            AS cumulative_ae_hours
    FROM ranked
)

SELECT
    rank,
    account_id,
    account_name,
    reason,
    p_win,
    expected_ltv,
    expected_value,
    expected_days_to_close,
    required_ae_hours,
    cumulative_ae_hours,
    source,
    opportunity_id,
    lead_id,
    stage,
    channel,
    value_per_ae_hour,
    ae_capacity.ae_available_hours
FROM cumulated
CROSS JOIN ae_capacity
WHERE cumulative_ae_hours <= ae_capacity.ae_available_hours
ORDER BY rank
