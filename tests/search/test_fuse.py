from chaffee_assets.search.fuse import RRF_K, reciprocal_rank


def test_an_item_both_lists_rank_beats_the_top_of_one():
    fused = reciprocal_rank({"vector": [1, 2, 3], "lexical": [4, 2, 5]})
    assert fused[0][0] == 2
    assert fused[0][1] == 2 / (RRF_K + 2)
    assert fused[0][2] == {"vector": 2, "lexical": 2}


def test_ties_are_broken_the_same_way_every_time():
    fused = [item for item, _score, _ranks in reciprocal_rank({"vector": [7, 8], "lexical": [9, 6]})]
    assert fused == [7, 9, 6, 8]  # 7 and 9 tie at rank 1 (smaller id first), 8 and 6 at rank 2


def test_one_list_keeps_its_order():
    assert [i for i, _, _ in reciprocal_rank({"vector": [5, 3, 9]})] == [5, 3, 9]
