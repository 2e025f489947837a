-- Redis' clock in ms, read on the node that holds KEYS[1] (not read): on a cluster the prefix's slot
-- owner, whose clock every other script reads too, instead of whichever node a bare TIME reaches.
-- @include redis-now
return now
