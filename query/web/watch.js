// 信用浙江 Credit Zhejiang: the watchlist view (next commit).
