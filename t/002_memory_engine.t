# 002_memory_engine.t
#	The same context semantics on the in-memory engine (behaviours 1-3 of
#	001, shared through DynamoTest), and that a memory node restarts empty.

use strict;
use warnings;

use Test::More;

use DynamoTest qw(check_read_modify_write check_siblings check_delete);

my $node = DynamoTest::Node->start(engine => 'memory');
is($node->status->{engine}, 'memory', 'status reports the memory engine');

subtest '1. read-modify-write with the returned context, 1,000 times' => sub {
	check_read_modify_write($node, 1000);
};

subtest '2. siblings from a stale context, collapsed by the merged one' => sub {
	check_siblings($node);
};

subtest '3. delete hides the key, a blind write revives it' => sub {
	check_delete($node);
};

subtest 'a restarted memory node starts empty' => sub {
	$node->put_ok('mem', "k$_", "v$_") for 1 .. 10;
	my $before = $node->status->{keys};
	cmp_ok($before, '>=', 10, 'keys are counted before the restart');
	is($node->stop, 0, 'SIGTERM stops the node cleanly');
	$node->restart;
	is($node->status->{keys}, 0, 'no keys after the restart');
	my @found = grep { $node->get('mem', "k$_")->{rc} != 1 } 1 .. 10;
	is_deeply(\@found, [], 'every key written before is gone (get exits 1)');
	my $g = $node->get('rmw', 'counter');
	is($g->{rc}, 1, 'the read-modify-write key is gone too');

	# and it works as a fresh node
	my $c = $node->put_ok('mem', 'k1', 'new');
	$node->put_ok('mem', 'k1', 'newer', $c);
	$g = $node->get('mem', 'k1');
	is_deeply([ map { $_->{value} } @{ $g->{siblings} } ], ['newer'], 'and takes writes again');
};

is($node->stop, 0, 'the node stops cleanly on SIGTERM');

done_testing();
