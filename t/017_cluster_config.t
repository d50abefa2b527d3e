# 017_cluster_config.t
#	N and Q belong to a cluster.  A node that joins takes the cluster's N;
#	a member whose ring has one N ignores a gossiped ring with another, as
#	every node ignores a ring of another partition count, and says so in
#	its log: two clusters pointed at each other stay two (issue 16: a ring
#	of another N used to be adopted, changing the replication factor of a
#	running cluster under it).

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep);

use DynamoTest;
use DynamoCluster qw(wait_until);

my $log_of = sub { DynamoTest::slurp($_[0]{log}) };
my $a = DynamoTest::Node->start(id => 'a1', args => [ '--n', '3', '--partitions', '8' ]);

subtest 'a member ignores a ring with another N' => sub {
	# j joins through two seeds of two clusters (n=3 and n=2): it takes the
	# ring of the first to answer, and then, a member, must ignore the other
	my $b = DynamoTest::Node->start(id => 'b1', args => [ '--n', '2', '--partitions', '8' ]);
	my $j = DynamoTest::Node->start(id => 'j2',
		args => [ '--partitions', '8', '--seeds', $a->addr . ',' . $b->addr ]);
	ok(wait_until(20, sub { $log_of->($j) =~ /ignoring a ring with n=(2|3): this node has n=(2|3)/ }),
		'j2 logs that it ignores the other cluster ring') or diag($j->log_tail(20));
	my $n = $j->status->{n};
	my $joined = $n == 3 ? $a : $b;
	my $other = $n == 3 ? $b : $a;
	ok(wait_until(20, sub { ($joined->status->{ring_members} // 0) == 2 }),
		"j2 is in the ring of n=$n");
	is($other->status->{ring_members}, 1, 'the other cluster ring is untouched');
	sleep 2;
	is($j->status->{n}, $n, 'and j2 stays with it');
	$j->stop;
	$b->stop;
};

subtest 'a node with another Q ignores the cluster ring' => sub {
	my $q = DynamoTest::Node->start(id => 'q1',
		args => [ '--n', '3', '--partitions', '16', '--seeds', $a->addr ]);
	ok(wait_until(20, sub { $log_of->($q) =~ /ignoring a ring of 8 partitions: this node has 16/ }),
		'its log says why') or diag($q->log_tail(20));
	is($q->status->{ring_members}, 0, 'it holds no ring: it did not join');
	$q->stop;
};

subtest 'a node that joins takes the cluster N' => sub {
	my $j = DynamoTest::Node->start(id => 'j1',
		args => [ '--n', '2', '--partitions', '8', '--seeds', $a->addr ]);
	ok(wait_until(20, sub {
				my ($sj, $sa) = ($j->status, $a->status);
				($sj->{ring_members} // 0) >= 2 && $sj->{ring_version} == $sa->{ring_version}
			}), 'it joined');
	is($j->status->{n}, 3, 'with the cluster n=3, not its --n 2');
	$j->stop;
};

$a->stop;
done_testing();
