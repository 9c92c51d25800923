-- The abnormal pools' index holds every tube column their lists read. A list (and the round
-- page's counts) first reads the round's abnormal pooled tubes in result order: through the old
-- index that was a lookup in the tubes table for each, one scattered page each (a day's
-- 5,000 abnormal tubes among 2.5 million: 17–19 ms on a cold cache, which a reader has after any
-- commit); from the index alone, 7 ms. Only abnormal pooled tubes are in it, so the cost of the
-- wider entries falls on a few tubes that rarely change.
DROP INDEX tubes_abnormal_pools;
CREATE INDEX tubes_abnormal_pools ON tubes(
    round_id, resulted_at, id, code, site_id, lane_id, pool_size, state, members, opened_at, sealed_at, outcome
) WHERE outcome IN ('abnormal','positive') AND pool_size > 1;
