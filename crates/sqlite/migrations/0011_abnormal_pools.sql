-- The abnormal pools of a round in the order their results came (the command's list): read in
-- index order, so the list's one statement sorts nothing. Only abnormal or positive pools are in
-- it (one tube in a thousand on a Shanghai day), so a lab import writes almost no entries.
CREATE INDEX tubes_abnormal_pools ON tubes(round_id, resulted_at, id)
    WHERE outcome IN ('abnormal','positive') AND pool_size > 1;
